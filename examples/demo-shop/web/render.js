// The web page, as a pure function of what the api answered: tested without servers.

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** Cents as a price: 450 → "4.50". */
export function formatPrice(cents) {
  return (cents / 100).toFixed(2);
}

/** The shop's page: the products with their sale prices, and which versions served it. */
export function renderPage({ webVersion, apiVersion, products }) {
  const onSale = products.filter((p) => p.salePrice < p.price);
  const rows = products.map((p) => {
    const price =
      p.salePrice < p.price
        ? `<s>${formatPrice(p.price)}</s> ${formatPrice(p.salePrice)} (${p.sale}% off)`
        : formatPrice(p.price);
    return `    <li>${escape(p.name)}: ${price}</li>`;
  });
  return [
    "<!doctype html>",
    "<title>Demo Shop</title>",
    "<h1>Demo Shop</h1>",
    onSale.length ? `<p class="banner">Sale: ${onSale.length} product(s) reduced</p>` : "",
    "<ul>",
    ...rows,
    "</ul>",
    `<footer>web ${escape(webVersion)} · api ${escape(apiVersion)}</footer>`,
    "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}
