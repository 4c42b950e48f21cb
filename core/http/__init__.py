"""HTTP: the request pipeline, `require`/`public`, the error envelope, pagination, API
versions and the OpenAPI description."""
