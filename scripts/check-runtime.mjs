// Runs first in `npm test` (plain JavaScript so that even an old Node can run it): the stack
// needs Node 24, which `npm ci` installs from the npm package "node" into node_modules/.bin.
// npm scripts put node_modules/.bin first on PATH, so they run on that binary.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `This project runs on Node.js 24; this script ran on ${process.version}.\n` +
      'Run it through npm (npm test / npm start), which uses the Node 24 that `npm ci` installs into node_modules/.bin.\n' +
      'If node_modules/.bin/node is missing, run `npm ci` again (the "node" package installs it).',
  );
  process.exit(1);
}
