"""The bottom layer: the request's context, the clock, tenancy and the API's error shape;
imports no app of the project."""
