// The benchmark's hello world (scripts/bench/bench.ts): the least a Worker can do, served both on npm start's
// path (Miniflare, direct socket) and on bare `workerd serve`, to measure what each path itself costs.
export default {
  fetch() {
    return Response.json({ status: "ok" });
  },
};
