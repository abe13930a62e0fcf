from django.db import connection
from django.http import HttpRequest, JsonResponse


def whoami(request: HttpRequest) -> JsonResponse:
    """Answer with the database user this request's connection logged in as."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (user,) = cursor.fetchone()
    return JsonResponse({"user": user})
