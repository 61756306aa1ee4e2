/**
 * The optional directory output of one segmenter: DIR/APP/NAME.m3u8 and its files in DIR/APP/NAME/.
 * Writes go through one promise chain per segmenter (a segment is on disk before the playlist that
 * names it); the playlist is written to a temporary file and renamed, so a reader never sees half
 * of one. Failures are counted, never thrown: the in-memory output does not depend on the disk.
 */
import { mkdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isSafePathPart } from "@onair/flv";
import createDebug from "debug";

const debug = createDebug("onair:hls:segment");

/** Which SegmentFiles wrote each playlist path last: an older one never deletes a newer one's playlist. */
const playlistOwners = new Map<string, SegmentFiles>();

export class SegmentFiles {
  /** DIR/APP/NAME: where the segments go. */
  readonly folder: string;
  /** DIR/APP/NAME.m3u8. */
  readonly playlistPath: string;
  readonly #written = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #errors = 0;
  #lastError: string | undefined;
  #removed = false;
  /** The folder was made (mkdir is skipped until a write finds it gone). */
  #folderMade = false;

  /** Undefined when `app` or `name` cannot be one component of a path (see isSafePathPart). */
  static create(dir: string, app: string, name: string): SegmentFiles | undefined {
    if (!isSafePathPart(app) || !isSafePathPart(name)) return undefined;
    return new SegmentFiles(join(resolve(dir), app, name), join(resolve(dir), app, `${name}.m3u8`));
  }

  private constructor(folder: string, playlistPath: string) {
    this.folder = folder;
    this.playlistPath = playlistPath;
    playlistOwners.set(playlistPath, this);
  }

  get errors(): number {
    return this.#errors;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Resolves when every write and removal queued so far is done (failed ones included). */
  settled(): Promise<void> {
    return this.#queue;
  }

  write(file: string, bytes: Buffer): void {
    if (this.#removed) return;
    this.#written.add(file);
    this.#enqueue(async () => {
      await this.#makeFolder();
      await writeFile(join(this.folder, file), bytes).catch(async (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        // The folder was removed from under us: made again, once.
        this.#folderMade = false;
        await this.#makeFolder();
        await writeFile(join(this.folder, file), bytes);
      });
    });
  }

  remove(file: string): void {
    if (!this.#written.delete(file)) return;
    this.#enqueue(() => rm(join(this.folder, file), { force: true }));
  }

  playlist(text: string): void {
    // A newer segmenter of the same stream writes this path now.
    if (this.#removed || playlistOwners.get(this.playlistPath) !== this) return;
    const temporary = `${this.folder}.m3u8.tmp`;
    this.#enqueue(async () => {
      await this.#makeFolder();
      await writeFile(temporary, text);
      await rename(temporary, this.playlistPath);
    });
  }

  /** Deletes every file written (and the playlist, unless a newer writer of the same path took it over). */
  removeAll(): void {
    if (this.#removed) return;
    this.#removed = true;
    const files = [...this.#written];
    this.#written.clear();
    const ownsPlaylist = playlistOwners.get(this.playlistPath) === this;
    if (ownsPlaylist) playlistOwners.delete(this.playlistPath);
    this.#enqueue(async () => {
      await Promise.all(files.map((file) => rm(join(this.folder, file), { force: true })));
      if (!ownsPlaylist) return;
      await rm(this.playlistPath, { force: true });
      await rmdir(this.folder).catch(() => undefined); // still holds a newer writer's files: kept
    });
  }

  async #makeFolder(): Promise<void> {
    if (this.#folderMade) return;
    await mkdir(this.folder, { recursive: true });
    this.#folderMade = true;
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error: unknown) => {
      this.#errors += 1;
      this.#lastError = error instanceof Error ? error.message : String(error);
      debug("%s: %s", this.folder, this.#lastError);
    });
  }
}
