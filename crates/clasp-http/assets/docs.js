// Renders /openapi.json with the vendored Swagger UI. No validator: it would
// send the document to validator.swagger.io, and the page must work offline.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
