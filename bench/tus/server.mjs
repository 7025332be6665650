// The tus peer of Clasp's upload benchmark (bench/src/procs.rs starts it):
// @tus/server with @tus/file-store, set up as the package's README shows.
// PORT and DIR come from the environment.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const port = Number(process.env.PORT);
const directory = process.env.DIR;
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
http.createServer((req, res) => tus.handle(req, res)).listen(port, '127.0.0.1');
