"""The live fleet map: the page, and its data as JSON for the page to reload when vehicles it
does not show yet start reporting."""

from django.http import JsonResponse
from django.shortcuts import render

from apps.ops.selectors.live_map import fleet_positions
from apps.ops.views.base import staff_required


@staff_required
def live_map(request):
    return render(request, "ops/live_map.html", {"map": fleet_positions()})


@staff_required
def live_map_positions(request):
    return JsonResponse(fleet_positions())
