// httpyac's project configuration (found from any .http file below here).
// The request files in api-requests/ use VS Code REST Client's syntax for
// named responses — {{login.response.body.$.accessToken}},
// {{create.response.headers.ETag}} — which httpyac 6 does not read (it
// keeps a named response as `loginResponse`). This hook resolves that
// syntax from httpyac's own variables, so the same files run unchanged in
// REST Client, JetBrains' HTTP client and httpyac (`make test` runs them).
const requestVariable = /\{\{\s*([\w-]+)\.response\.(body|headers)\.([^}]*?)\s*\}\}/gu;

function resolve(context, name, part, path) {
  const response = context.variables[`${name}Response`];
  if (!response) return undefined;
  if (part === "headers") {
    const header = path.trim().toLowerCase();
    const value = Object.entries(response.headers || {}).find(([k]) => k.toLowerCase() === header)?.[1];
    return Array.isArray(value) ? value[0] : value;
  }
  let value = response.parsedBody ?? response.body;
  if (path === "*") return typeof value === "string" ? value : JSON.stringify(value);
  for (const key of path.replace(/^\$\.?/u, "").split(".").filter(Boolean)) value = value?.[key];
  return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
}

module.exports = {
  configureHooks(api) {
    api.hooks.replaceVariable.addHook(
      "restClientRequestVariables",
      async (text, _type, context) => {
        if (typeof text !== "string") return text;
        return text.replace(requestVariable, (match, name, part, path) => resolve(context, name, part, path) ?? match);
      },
      { before: ["javascript"] },
    );
  },
};
