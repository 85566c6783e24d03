"""The REST API: thin views over the services and selectors."""
