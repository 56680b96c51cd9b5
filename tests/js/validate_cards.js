// Validates Adaptive Cards with the real adaptivecards library (the UMD bundle Teams' renderers share).
// Input on stdin: a JSON array of cards. Output on stdout: a JSON array, one entry per card, listing
// every parse and validation event plus any property the library dropped (a misspelt or unsupported
// name that Teams would silently ignore). Exit status 1 when any card has a problem.
"use strict";
const path = require("path");
const AC = require(path.join(__dirname, "..", "..", "node_modules", "adaptivecards", "dist", "adaptivecards.min.js"));

function droppedProperties(input, output, where, found) {
  if (Array.isArray(input)) {
    input.forEach((item, i) => droppedProperties(item, Array.isArray(output) ? output[i] : undefined, `${where}[${i}]`, found));
    return found;
  }
  if (input === null || typeof input !== "object") return found;
  for (const key of Object.keys(input)) {
    // "$schema" and host-specific extensions such as Teams' "msteams" are not card properties.
    if (key === "$schema" || key === "msteams") continue;
    if (output === null || typeof output !== "object" || !(key in output)) {
      // The library omits properties equal to their defaults; only a difference is a problem.
      if (!isDefault(key, input[key])) found.push(`${where}.${key} was dropped by the parser`);
      continue;
    }
    droppedProperties(input[key], output[key], `${where}.${key}`, found);
  }
  return found;
}

function isDefault(key, value) {
  const defaults = { isSubtle: false, italic: false, wrap: false, separator: false, spacing: "Default", weight: "Default",
    size: "Default", color: "Default", fontType: "Default", contentUrl: null };
  return key in defaults && defaults[key] === value;
}

function validate(card) {
  const problems = [];
  const context = new AC.SerializationContext();
  context.targetVersion = AC.Versions.v1_5;
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    problems.push(`parse: ${AC.ValidationEvent[event.event]}: ${event.message}`);
  }
  const results = parsed.validateProperties();
  for (const event of results.validationEvents) {
    problems.push(`validate: ${AC.ValidationEvent[event.event]}: ${event.message}`);
  }
  if (card.version !== "1.5") problems.push(`version ${JSON.stringify(card.version)} is not "1.5"`);
  const serialized = parsed.toJSON(new AC.SerializationContext());
  droppedProperties(card, serialized, "card", problems);
  return problems;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cards = JSON.parse(input);
  const report = cards.map((card, index) => ({ index, problems: validate(card) }));
  process.stdout.write(JSON.stringify(report));
  process.exitCode = report.some((entry) => entry.problems.length) ? 1 : 0;
});
