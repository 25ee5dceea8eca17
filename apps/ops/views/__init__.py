"""The ops pages, one module per page family; each view validates its input, calls selectors
(apps.ops.selectors) and renders. Actions call one service of the app that owns the rule."""
