/** @jsxImportSource hono/jsx */
// The HTML a browser gets for an error on a UI page (the JSON API keeps its JSON errors).
import { ErrorPage } from "./login-page";

export function uiErrorPage(status: number, message: string) {
  return <ErrorPage status={status} message={message} />;
}
