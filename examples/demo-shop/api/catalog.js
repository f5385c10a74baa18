// The api's logic, kept apart from the HTTP wiring so that it is tested without a server.
import { readFileSync } from "node:fs";

/** The products, from products.json next to this file (a release changes it). */
export function loadProducts(file = new URL("./products.json", import.meta.url)) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** A product's price after its sale (percent off), in cents, rounded down. */
export function salePrice(product) {
  const off = product.sale ?? 0;
  if (!Number.isInteger(off) || off < 0 || off > 100) throw new Error(`${product.id}: sale must be 0..100`);
  return Math.floor((product.price * (100 - off)) / 100);
}

/** What GET /products answers. */
export function listProducts(products) {
  return products.map((p) => ({ ...p, salePrice: salePrice(p) }));
}
