// The standalone chat page: index.html and chat.js (chat-page/, shipped unchanged), chat-config.json with what the
// page says about this run, the transformers.js package of the tuned model (model/), and the transformers.js bundle
// with onnxruntime-web's WASM files (vendor/), so the folder runs from any static file server with no network.
import { jsonFile, under, type OutFile } from '../util/files.js';
import { hfFolderFiles } from './hf.js';
import type { ExportSource } from './source.js';
import { CHAT_PAGE_PROGRAM, CHAT_VENDOR, shippedFiles, type ShippedBytes } from './shipped.js';

/** chat-config.json, which chat.js reads (each key is read there; export.test.ts checks). */
export interface ChatPageConfig {
  /** The page's title and heading. */
  title: string;
}

export function chatPageConfig(src: ExportSource): ChatPageConfig {
  return { title: `Chat: ${src.run.base.repo ?? src.run.base.name} fine-tuned` };
}

export function chatPageFiles(
  src: ExportSource,
  page: ShippedBytes<typeof CHAT_PAGE_PROGRAM>,
  vendor: ShippedBytes<typeof CHAT_VENDOR>,
): OutFile[] {
  return [
    ...shippedFiles(CHAT_PAGE_PROGRAM, page),
    jsonFile('chat-config.json', chatPageConfig(src)),
    ...under('model', hfFolderFiles(src, { onnx: true })),
    ...shippedFiles(CHAT_VENDOR, vendor, { prefix: 'vendor' }),
  ];
}
