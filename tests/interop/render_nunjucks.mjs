// Render promptfoo prompts as promptfoo does (Nunjucks 3, autoescape off), then parse the
// chat JSON. stdin: {"prompts": [{"raw": ..., "vars": {...}}]}; stdout: [[messages]...].
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(process.env.NUNJUCKS_FROM + '/');
const nunjucks = require('nunjucks');
const env = nunjucks.configure({ autoescape: false });
const input = JSON.parse(readFileSync(0, 'utf8'));
const out = input.prompts.map(({ raw, vars }) => JSON.parse(env.renderString(raw, vars)));
process.stdout.write(JSON.stringify(out));
