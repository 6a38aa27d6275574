from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path


def greet(request, name):
    return render(request, "greet.html", {"name": name, "q": request.GET.get("q", "")})


def upload(request):
    return HttpResponse(f"got {len(request.body)} bytes of {request.content_type}")


urlpatterns = [path("hello/<str:name>/", greet), path("upload/", upload)]
