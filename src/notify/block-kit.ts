// Slack's documented Block Kit limits (docs.slack.dev/reference/block-kit), and a validator that checks a
// message against them. Slack rejects a message that breaks one (`invalid_blocks`), so a notification
// that would is cut down before it is sent, and tests run every message through this validator.
import type { KnownBlock, MrkdwnElement, PlainTextElement } from "@slack/types";

export const blockKitLimits = {
  /** Blocks in one message. */
  blocks: 50,
  /** A header block's plain_text. */
  headerText: 150,
  /** A section block's text. */
  sectionText: 3000,
  /** Fields in one section block, and each field's text. */
  sectionFields: 10,
  fieldText: 2000,
  /** Elements in one context block. */
  contextElements: 10,
  /** Any text object. */
  textObject: 3000,
  block_id: 255,
  /** A message's top-level `text` (Slack truncates beyond; it recommends at most 4000). */
  messageText: 40_000,
} as const;

/** The top-level text slipway sends: short enough for a notification and for Slack's recommendation. */
export const fallbackTextLimit = 3000;

export type SlackMessage = { text: string; blocks: KnownBlock[] };

type TextObject = PlainTextElement | MrkdwnElement;

function checkText(
  problems: string[],
  where: string,
  t: unknown,
  max: number,
  types: readonly string[] = ["plain_text", "mrkdwn"],
): void {
  const o = t as Partial<TextObject> | undefined;
  if (!o || typeof o !== "object") {
    problems.push(`${where}: missing text object`);
    return;
  }
  if (!types.includes(String(o.type)))
    problems.push(`${where}: text type ${String(o.type)} not allowed here`);
  if (typeof o.text !== "string" || o.text.length < 1) problems.push(`${where}: empty text`);
  else if (o.text.length > max) problems.push(`${where}: text of ${o.text.length} characters (limit ${max})`);
}

/** Problems with `message`, one line each; empty when Slack would accept it. */
export function validateBlockKit(message: { text?: unknown; blocks?: unknown }): string[] {
  const problems: string[] = [];
  const L = blockKitLimits;
  if (message.text !== undefined) {
    if (typeof message.text !== "string") problems.push("text: not a string");
    else if (message.text.length > L.messageText)
      problems.push(`text: ${message.text.length} characters (limit ${L.messageText})`);
  }
  const blocks = message.blocks;
  if (blocks === undefined) return problems;
  if (!Array.isArray(blocks)) return [...problems, "blocks: not a list"];
  if (blocks.length > L.blocks) problems.push(`blocks: ${blocks.length} blocks (limit ${L.blocks})`);
  blocks.forEach((b: Record<string, unknown>, i) => {
    const where = `blocks[${i}]`;
    if (typeof b.block_id === "string" && b.block_id.length > L.block_id)
      problems.push(`${where}.block_id: longer than ${L.block_id}`);
    switch (b.type) {
      case "header":
        checkText(problems, `${where}.text`, b.text, L.headerText, ["plain_text"]);
        break;
      case "section": {
        if (b.text === undefined && b.fields === undefined) problems.push(`${where}: needs text or fields`);
        if (b.text !== undefined) checkText(problems, `${where}.text`, b.text, L.sectionText);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length < 1) problems.push(`${where}.fields: empty`);
          else {
            if (b.fields.length > L.sectionFields)
              problems.push(`${where}.fields: ${b.fields.length} fields (limit ${L.sectionFields})`);
            for (const [j, f] of b.fields.entries())
              checkText(problems, `${where}.fields[${j}]`, f, L.fieldText);
          }
        }
        break;
      }
      case "context": {
        const els = b.elements;
        if (!Array.isArray(els) || els.length < 1) problems.push(`${where}.elements: empty`);
        else {
          if (els.length > L.contextElements)
            problems.push(`${where}.elements: ${els.length} elements (limit ${L.contextElements})`);
          for (const [j, e] of els.entries()) checkText(problems, `${where}.elements[${j}]`, e, L.textObject);
        }
        break;
      }
      case "divider":
        break;
      default:
        problems.push(`${where}: block type ${String(b.type)} is not one slipway sends`);
    }
  });
  return problems;
}
