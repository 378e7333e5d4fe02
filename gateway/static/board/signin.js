// Signing in to the board: the one-time-code form (cookie session) and signing out.

import { api, forgetToken } from "./api.js";
import { $, board, control, setStatus } from "./state.js";

export function showSignIn(note) {
  setStatus("signin");
  $("signin").hidden = false;
  if (note) $("signin-note").textContent = note;
  $("signin-destination").focus();
}

// `start` runs once the code is accepted (main.js: who am I, then the socket).
export function wireSignIn(start) {
  let requested = null;
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("signin-error");
    error.textContent = "";
    const destination = control("signin-destination").value.trim();
    try {
      if (requested !== destination) {
        const channel = destination.includes("@") ? "email" : "sms";
        await api("POST", "/auth/otp/request", { channel, destination });
        requested = destination;
        $("signin-code-row").hidden = false;
        $("signin-submit").textContent = "Sign in";
        $("signin-code").focus();
        return;
      }
      await api("POST", "/auth/otp/verify", {
        destination,
        code: control("signin-code").value.trim(),
      });
      $("signin").hidden = true;
      await start();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  $("sign-out").addEventListener("click", async () => {
    const cookieSession = !board.token;
    forgetToken();
    if (cookieSession) await api("POST", "/auth/logout").catch(() => null);
    if (board.socket) board.socket.close(1000, "signed out");
    location.reload();
  });
}
