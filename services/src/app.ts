// The services endpoint: `Register` and `Set` on one HTTP/2 endpoint, port $PORT (9080).
// $SERVICES_VARIANT chooses the Set: `durable` (the default; Restate state) or `broken`
// (process memory: a kill loses acknowledged adds, on purpose).
import "./polyfill";
import * as restate from "@restatedev/restate-sdk";
import { register } from "./register";
import { brokenSet, durableSet } from "./set";

const port = Number(process.env.PORT ?? "9080");
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`PORT must be a TCP port, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const variant = process.env.SERVICES_VARIANT ?? "durable";
if (variant !== "durable" && variant !== "broken") {
  console.error(`SERVICES_VARIANT must be durable or broken, not ${JSON.stringify(variant)}`);
  process.exit(2);
}

restate
  .endpoint()
  .bind(register)
  .bind(variant === "broken" ? brokenSet : durableSet)
  .listen(port)
  .then(() => console.log(`services listening on port ${port}, Set variant ${variant}`))
  .catch((error: unknown) => {
    console.error(`services could not listen on port ${port}:`, error);
    process.exit(1);
  });
