// A real OpenID Connect provider for the console's login tests: panva/node-oidc-provider with its
// development interactions (a login form taking any account name, then consent). The account name
// is "<role>@<office>", and the provider issues the role and the office as the claims the console
// is configured to read ("daiban_role", "daiban_office").
// Usage: node provider.mjs <port> <redirect_uri>
import Provider from "oidc-provider";

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "daiban-console",
      token_endpoint_auth_method: "none", // a public client: PKCE protects the code
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  scopes: ["openid", "daiban"],
  claims: { openid: ["sub"], daiban: ["daiban_role", "daiban_office"] },
  conformIdTokenClaims: false, // the role and office travel in the ID token itself
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const [role, office] = id.split("@");
    return {
      accountId: id,
      async claims() {
        return { sub: id, daiban_role: role, daiban_office: office };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log(`oidc provider at ${issuer}`));
