"""A test client whose requests go through fleetops.wsgi's lean routes first, as gunicorn's do:
what the lean path answers comes back marked `lean`, the rest through Django's stack."""

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.test import Client
from django.test.client import ClientHandler
from django.urls import reverse

from apps.common.wsgi import LeanRoutes
from apps.telematics.api.lean import osmand_lean


class LeanClientHandler(ClientHandler):
    def __call__(self, environ):
        answer = LeanRoutes(None, {reverse("api:telematics-osmand"): osmand_lean}).offer(environ)
        if answer is None:
            return super().__call__(environ)
        status, headers, body = answer
        response = HttpResponse(body, status=int(status.split()[0]))
        for name in list(response.headers):
            del response.headers[name]
        for name, value in headers:
            response[name] = value
        response.lean = True
        response.wsgi_request = WSGIRequest(environ)
        return response


class LeanClient(Client):
    def __init__(self, **defaults):
        super().__init__(**defaults)
        self.handler = LeanClientHandler(enforce_csrf_checks=False)
