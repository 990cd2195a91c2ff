#!/usr/bin/env node
// Builds the native addon from source with cargo and puts it where `lib/native.js` loads it. Run by
// `npm install` (skipped when a working addon is already there, unless --force) and by `npm run build`.
// Needs only cargo: no prebuilt download, no napi CLI.
'use strict'

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const addon = path.join(root, 'flotilla.node')
const force = process.argv.includes('--force')
// Installed as a dependency, the build's target folder (about 150 MB) is removed afterwards.
const asDependency = root.split(path.sep).includes('node_modules')

function addonLoads () {
  try {
    require(addon)
    return true
  } catch {
    return false
  }
}

if (!force && fs.existsSync(addon) && addonLoads()) {
  console.log('flotilla: native addon present, skipping the cargo build (npm run build rebuilds it)')
  process.exit(0)
}

const targetDir = path.join(root, 'target')
const args = ['build', '--profile', 'addon', '-p', 'flotilla', '--target-dir', targetDir]
if (fs.existsSync(path.join(root, 'Cargo.lock'))) args.push('--locked')
console.log('flotilla: building the native addon: cargo ' + args.join(' '))
try {
  execFileSync('cargo', args, { cwd: root, stdio: 'inherit' })
} catch (error) {
  console.error('flotilla: the cargo build failed. Is Rust installed (https://rustup.rs) and is cargo on PATH?')
  process.exit(1)
}

const libraryName = { darwin: 'libflotilla.dylib', win32: 'flotilla.dll' }[process.platform] || 'libflotilla.so'
const built = path.join(targetDir, 'addon', libraryName)
// Copy to a temporary name and rename, so that a running process never loads a half-written file.
const temporary = addon + '.tmp-' + process.pid
fs.copyFileSync(built, temporary)
fs.renameSync(temporary, addon)
if (asDependency) fs.rmSync(targetDir, { recursive: true, force: true })
console.log('flotilla: native addon ready')
