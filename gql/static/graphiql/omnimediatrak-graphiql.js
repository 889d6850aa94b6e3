// Starts GraphiQL against the endpoint that served this page. Kept out of the HTML so the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var defaultQuery = [
    "# Welcome to OmniMediaTrak.",
    "#",
    "# To act as a user, open the Headers tab below and paste:",
    '#   { "Authorization": "Bearer <your session or API token>" }',
    "",
    "{",
    "  searchMedia(first: 5) {",
    "    totalCount",
    "    edges { node { id title mediaType releaseDate } }",
    "  }",
    "}",
    "",
  ].join("\n");
  // Subscriptions go over a WebSocket to the same path (graphql-transport-ws); the Headers tab's
  // entries become connection_init's payload, so {"Authorization": "Bearer ..."} signs in there too.
  var wsScheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: window.location.pathname,
    subscriptionUrl: wsScheme + "//" + window.location.host + window.location.pathname,
    headers: { Accept: "application/graphql-response+json, application/json" },
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: "{}",
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
