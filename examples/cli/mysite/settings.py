"""A Django settings module with references (importing it does not need Django)."""

DEBUG = False
ALLOWED_HOSTS = ["shop.example.com"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "ssm:/shop/prod/db-host",
        "USER": "secretsmanager:shop/prod/db:username",
        "PASSWORD": "secretsmanager:shop/prod/db:password",
    }
}
STRIPE_KEY = "secretsmanager:shop/prod/stripe"
