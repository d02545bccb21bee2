// Files that wrangler.toml's `[[rules]] type = "Text"` bundles as strings (the docs page's Swagger UI).
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}

declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
}
