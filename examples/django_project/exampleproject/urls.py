from django.urls import path

from exampleproject import views

urlpatterns = [path("whoami/", views.whoami)]
