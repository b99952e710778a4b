// Renders /openapi.yaml with the embedded Swagger UI. "Try it out" calls
// this gateway; authorize with an access token from POST /auth/login.
window.ui = SwaggerUIBundle({
  url: "/openapi.yaml",
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 1,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
