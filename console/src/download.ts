import { currentToken } from "./session";

/** Files come over HTTP GET with the same bearer token as the API: fetch, then hand the browser a blob. */
export async function downloadWithToken(url: string, filename: string, open = false): Promise<void> {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${currentToken() ?? ""}` } });
  if (!response.ok) {
    alert(`The download failed (${response.status}).`);
    return;
  }
  const blobUrl = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = blobUrl;
  if (open) link.target = "_blank";
  else link.download = filename;
  link.rel = "noopener";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
}
