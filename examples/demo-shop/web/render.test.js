import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPrice, renderPage } from "./render.js";

test("formatPrice prints cents as a price", () => {
  assert.equal(formatPrice(450), "4.50");
  assert.equal(formatPrice(1200), "12.00");
});

test("renderPage lists the products and the versions", () => {
  const html = renderPage({
    webVersion: "1.0.0",
    apiVersion: "1.0.1",
    products: [{ id: "tea", name: "Tea & biscuits", price: 450, salePrice: 450 }],
  });
  assert.match(html, /<li>Tea &amp; biscuits: 4.50<\/li>/);
  assert.match(html, /web 1.0.0 · api 1.0.1/);
  assert.doesNotMatch(html, /Sale:/);
});

test("renderPage shows a sale", () => {
  const html = renderPage({
    webVersion: "1",
    apiVersion: "1",
    products: [{ id: "tea", name: "Tea", price: 450, sale: 20, salePrice: 360 }],
  });
  assert.match(html, /<s>4.50<\/s> 3.60 \(20% off\)/);
  assert.match(html, /Sale: 1 product/);
});
