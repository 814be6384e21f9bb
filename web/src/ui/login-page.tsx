/** @jsxImportSource hono/jsx */
// The token login form. Before a session exists, the form's CSRF token is a double-submit
// value: the same random string in a SameSite=Strict cookie and in the form.
import { Page } from "./layout";

export function LoginPage(props: { csrf: string; next: string; error: string | null }) {
  return (
    <Page title="Log in" ctx={null}>
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <form method="post" action="/login" class="login">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="next" value={props.next} />
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required autofocus />
        <p class="muted">
          A token from <code>dockyard token create --user NAME</code>. It stays on the server; the browser only keeps a
          session cookie.
        </p>
        <button type="submit">Log in</button>
      </form>
    </Page>
  );
}

export function ErrorPage(props: { status: number; message: string }) {
  return (
    <Page title={props.status === 403 ? "Not allowed" : props.status === 404 ? "Not found" : "Error"} ctx={null}>
      <p role="alert">{props.message}</p>
      <p>
        <a href="/">Back to the runs</a>
      </p>
    </Page>
  );
}
