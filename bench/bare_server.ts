// The baseline for bench/http.ts: a bare Deno.serve handler that does only
// what any JSON API must (parse the JSON body, decode its base64 buffer) and
// answers a fixed reply. zxsim's route is measured against it.

const port = Number(Deno.args[0] ?? 8001);
const reply = '{"status":"ZX_OK","code":0}';

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("ready") }, async (req) => {
  const body = await req.json();
  const bytes = Uint8Array.fromBase64(body.buffer);
  if (bytes.length === 0) return new Response("empty", { status: 400 });
  return new Response(reply, { headers: { "content-type": "application/json; charset=utf-8" } });
});
