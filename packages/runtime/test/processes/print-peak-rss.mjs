// Prints this process's peak RSS as peakRssBytes() sees it, for a parent that is much larger.
import { peakRssBytes } from '../../dist/index.js';

process.stdout.write(`${peakRssBytes()}\n`);
