// The `Register` virtual object: one value per key in Restate state under "value".
// Handlers are exclusive (the default for a virtual object), so get/set/cas on one key are
// serialised by Restate.
import * as restate from "@restatedev/restate-sdk";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface CasRequest {
  expected: Json;
  newValue: Json;
}

// Equality of JSON values (the register holds what the client sent).
function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export const register = restate.object({
  name: "Register",
  handlers: {
    get: async (ctx: restate.ObjectContext): Promise<Json> => {
      return (await ctx.get<Json>("value")) ?? null;
    },
    set: async (ctx: restate.ObjectContext, value: Json): Promise<void> => {
      ctx.set("value", value);
    },
    // Compare-and-set: 412 (a terminal error, not retried) when the register does not hold
    // `expected`.
    cas: async (ctx: restate.ObjectContext, request: CasRequest): Promise<void> => {
      const current = await ctx.get<Json>("value");
      if (!sameJson(current ?? null, request.expected)) {
        throw new restate.TerminalError(
          `expected ${JSON.stringify(request.expected)} but the register holds ${JSON.stringify(current ?? null)}`,
          { errorCode: 412 },
        );
      }
      ctx.set("value", request.newValue);
    },
    clear: async (ctx: restate.ObjectContext): Promise<void> => {
      ctx.clear("value");
    },
  },
});
