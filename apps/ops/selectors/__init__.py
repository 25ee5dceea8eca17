"""Reads of the ops pages. Views call these and nothing else; every import of another app's
selectors, services or intelligence modules that the pages need lives in this package, so a
module moving between apps is re-pointed here and only here. Each chart is one function
returning plain series (labels and values), each list a queryset or a list of dicts."""
