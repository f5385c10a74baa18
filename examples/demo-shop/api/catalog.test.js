import assert from "node:assert/strict";
import { test } from "node:test";
import { listProducts, loadProducts, salePrice } from "./catalog.js";

test("salePrice takes the percentage off and rounds down", () => {
  assert.equal(salePrice({ id: "a", price: 450 }), 450);
  assert.equal(salePrice({ id: "a", price: 450, sale: 20 }), 360);
  assert.equal(salePrice({ id: "a", price: 999, sale: 50 }), 499);
});

test("salePrice refuses a sale outside 0..100", () => {
  assert.throws(() => salePrice({ id: "a", price: 1, sale: 120 }), /sale must be 0..100/);
});

test("the shipped products are valid", () => {
  const products = listProducts(loadProducts());
  assert.ok(products.length > 0);
  for (const p of products) assert.ok(p.id && p.name && p.salePrice <= p.price);
});
