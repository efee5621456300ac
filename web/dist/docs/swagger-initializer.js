// The API docs page (/docs): Swagger UI reading the server's own OpenAPI document. A separate
// file, not an inline script, so the strict Content-Security-Policy holds here too.
window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
