// Templates: htm tagged templates over Preact. Values interpolated into them are text (Preact sets
// textContent and attributes through the DOM, never markup), so names, messages and log lines cannot
// become elements. The only markup inserted as HTML is sanitised first (format.ts safeHtml).
import htm from "htm";
import { h } from "preact";

export const html = htm.bind(h);
