import assert from "node:assert/strict";
import { test } from "node:test";
import { summarize } from "./worker.js";

test("summarize counts the products on sale", () => {
  const body = {
    version: "0.2.0",
    products: [
      { price: 10, salePrice: 8 },
      { price: 10, salePrice: 10 },
    ],
  };
  assert.equal(summarize(body), "api 0.2.0: 2 products, 1 on sale");
});
