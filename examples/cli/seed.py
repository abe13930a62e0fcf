"""Create the parameters and secrets the CLI examples use (in the configured account/emulator).

Run it against a local emulator: AWS_ENDPOINT_URL=http://127.0.0.1:5000 python seed.py
"""

import json

import boto3

PARAMETERS = {"/shop/prod/db-host": "db.internal", "/shop/prod/sentry-key": "f00dfeed5eed"}
SECRETS = {
    "shop/prod/db": {"username": "shop", "password": "example-Pw-3kq9-current", "port": 5432},
    "shop/prod/stripe": "sk_test_example_4eC39HqLyjWDarjtT1zdp7dc",
}


def main() -> None:
    ssm = boto3.client("ssm")
    for name, value in PARAMETERS.items():
        kind = "SecureString" if "key" in name else "String"
        ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
    secretsmanager = boto3.client("secretsmanager")
    for name, secret in SECRETS.items():
        text = secret if isinstance(secret, str) else json.dumps(secret)
        secretsmanager.create_secret(Name=name, SecretString=text)


if __name__ == "__main__":
    main()
