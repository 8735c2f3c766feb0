"""The HTTP app: `create_app` (app.py) and its lifespan, which builds the service's parts."""
