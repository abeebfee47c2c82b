// The API page: Swagger UI (served by the app from the installed package) draws the OpenAPI document
// named by #swagger-ui's data-document-url. No inline script: the Content-Security-Policy forbids it.
(function () {
  var root = document.getElementById('swagger-ui');
  if (!root || typeof SwaggerUIBundle === 'undefined') { return; }
  SwaggerUIBundle({
    url: root.getAttribute('data-document-url'),
    domNode: root,
    deepLinking: true,
    // Our own address only: the validator badge would send the document to another host.
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false
  });
}());
