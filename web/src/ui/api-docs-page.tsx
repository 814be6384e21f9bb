/** @jsxImportSource hono/jsx */
// The API reference page (GET /api/v1/docs): server-rendered from the OpenAPI document, one
// section per operation with its parameters, body and answers, and the schemas as JSON. No
// script and no asset beyond the UI's own stylesheet, so it needs no network beyond the server.

/** The parts of an OpenAPI 3.1 document the page reads. */
export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: unknown }[];
  requestBody?: { description?: string; required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

const anchor = (method: string, path: string) => `${method}-${path}`.replace(/[^A-Za-z0-9-]+/g, "-");

function schemaText(schema: unknown): string {
  if (schema && typeof schema === "object" && "$ref" in schema) return String((schema as { $ref: string }).$ref);
  return JSON.stringify(schema);
}

function Content(props: { content?: Record<string, { schema?: unknown }> }) {
  if (!props.content) return null;
  return (
    <ul>
      {Object.entries(props.content).map(([type, media]) => (
        <li>
          <code>{type}</code>: <code>{schemaText(media.schema)}</code>
        </li>
      ))}
    </ul>
  );
}

function OperationSection(props: { method: string; path: string; op: Operation }) {
  const { method, path, op } = props;
  const auth = op.security?.map((s) => Object.keys(s).join(" + ") || "none").join(" or ") ?? "none";
  return (
    <section id={anchor(method, path)}>
      <h3>
        <code>
          {method.toUpperCase()} {path}
        </code>
      </h3>
      <p>{op.summary}</p>
      <p>Auth: {auth}</p>
      {op.parameters && op.parameters.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Parameter</th>
              <th scope="col">In</th>
              <th scope="col">Schema</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {op.parameters.map((p) => (
              <tr>
                <td>
                  <code>{p.name}</code>
                  {p.required ? " (required)" : ""}
                </td>
                <td>{p.in}</td>
                <td>
                  <code>{schemaText(p.schema)}</code>
                </td>
                <td>{p.description ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {op.requestBody ? (
        <div>
          <h4>Request body{op.requestBody.required ? " (required)" : ""}</h4>
          {op.requestBody.description ? <p>{op.requestBody.description}</p> : null}
          <Content content={op.requestBody.content} />
        </div>
      ) : null}
      <h4>Responses</h4>
      <ul>
        {Object.entries(op.responses ?? {}).map(([status, r]) => (
          <li>
            <strong>{status}</strong> {r.description}
            <Content content={r.content} />
          </li>
        ))}
      </ul>
    </section>
  );
}

export function ApiDocsPage(props: { doc: OpenApiDocument; jsonPath: string }) {
  const { doc } = props;
  const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op })),
  );
  return (
    "<!doctype html>" +
    (
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${doc.info.title} API ${doc.info.version}`}</title>
          <link rel="stylesheet" href="/ui/assets/app.css" />
        </head>
        <body>
          <main id="main">
            <h1>
              {doc.info.title} API {doc.info.version}
            </h1>
            <p>{doc.info.description}</p>
            <p>
              The OpenAPI 3.1 document: <a href={props.jsonPath}>{props.jsonPath}</a>
            </p>
            <nav aria-label="Operations">
              <h2>Operations</h2>
              <ul>
                {ops.map(({ method, path, op }) => (
                  <li>
                    <a href={`#${anchor(method, path)}`}>
                      <code>
                        {method.toUpperCase()} {path}
                      </code>
                    </a>{" "}
                    {op.summary}
                  </li>
                ))}
              </ul>
            </nav>
            <h2>Operations in detail</h2>
            {ops.map(({ method, path, op }) => (
              <OperationSection method={method} path={path} op={op} />
            ))}
            <h2>Schemas</h2>
            {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
              <section id={`schema-${name}`}>
                <h3>{name}</h3>
                <pre>{JSON.stringify(schema, null, 2)}</pre>
              </section>
            ))}
          </main>
        </body>
      </html>
    ).toString()
  );
}
