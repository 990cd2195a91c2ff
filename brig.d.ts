// Types of `require('flotilla/brig')`: the brig face (lib/brig).
export * from './lib/brig/index'
