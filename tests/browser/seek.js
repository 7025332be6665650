// Plays the video at process.argv[2] in headless Chromium and seeks to its end.
// Prints one JSON line: what the <video> element reported. Run by the black-box
// test `browser::a_video_served_by_clasp_plays_and_seeks_to_its_end`.
const { chromium } = require(process.env.CLASP_TEST_PLAYWRIGHT);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CLASP_TEST_CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.setContent('<video id="v" muted preload="auto"></video>');
    const result = await page.evaluate(async (src) => {
      const v = document.getElementById('v');
      const event = (name) => new Promise((resolve, reject) => {
        v.addEventListener(name, resolve, { once: true });
        v.addEventListener('error', () => reject(new Error(`media error ${v.error && v.error.code}`)), { once: true });
      });
      const loaded = event('loadedmetadata');
      v.src = src;
      await loaded;
      await v.play();
      const seeked = event('seeked');
      v.currentTime = Math.max(0, v.duration - 0.2);
      await seeked;
      const ended = event('ended');
      await v.play();
      await ended;
      return { duration: v.duration, currentTime: v.currentTime, ended: v.ended, readyState: v.readyState };
    }, process.argv[2]);
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e) }));
  process.exit(1);
});
