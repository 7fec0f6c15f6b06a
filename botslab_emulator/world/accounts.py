"""Accounts and their logins: QUC challenges, Q/T tokens, one app session per account."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
import secrets
from urllib.parse import quote, unquote

from .. import codes
from ..crypto import md5_hex, random_alnum
from .model import ACCOUNT_SCOPES, REGIONS, Account, Challenge, Clock, Session, Tokens, WorldError


class AccountStore(Mapping[str, Account]):
    """Accounts by qid, with the login state of each: challenges, Q/T tokens, app sessions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._accounts: dict[str, Account] = {}
        self.tokens: dict[str, Tokens] = {}  # by Q
        self.sessions: dict[str, Session] = {}
        self.active_sid: dict[str, str] = {}  # qid -> its one live sid
        self.challenges: OrderedDict[str, Challenge] = OrderedDict()

    def __getitem__(self, qid: str) -> Account:
        return self._accounts[qid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)

    def put(self, acc: Account) -> None:
        self._accounts[acc.qid] = acc

    def add(
        self,
        username: str,
        password: str,
        region: str = "eu1",
        *,
        nickname: str = "",
        email: str = "",
        mobile: str = "",
        qid: str | None = None,
        captcha: bool = False,
    ) -> Account:
        if region not in REGIONS:
            raise WorldError(codes.INVALID_PARAM, f"unknown region {region}")
        if self.find(username) is not None:
            raise WorldError(codes.INVALID_PARAM, "account exists")
        qid = qid or str(3_000_000_000 + self._clock.new_id())
        if "@" in username and not email:
            email = username
        if "@" not in username and not mobile:
            mobile = username
        acc = Account(
            qid=qid,
            username=username,
            password_md5=md5_hex(password),
            password=password,
            region=region,
            nickname=nickname or username.split("@", maxsplit=1)[0],
            email=email,
            mobile=mobile,
            push_alias=f"botslab_{qid}_{secrets.token_hex(6)}",
            captcha_required=captcha,
        )
        for scope in ACCOUNT_SCOPES:
            acc.consents[f"{scope}||"] = {"granted": 1, "mtime": int(self._clock.now())}
        acc.consents["marketing||"]["granted"] = 0
        self._accounts[qid] = acc
        return acc

    def find(self, username: str) -> Account | None:
        wanted = username.strip().lower()
        for acc in self._accounts.values():
            if wanted in (acc.username.lower(), acc.email.lower(), acc.mobile):
                return acc
        return None

    def require(self, qid: str) -> Account:
        acc = self._accounts.get(qid)
        if acc is None:
            raise WorldError(codes.QT_EXPIRED)
        return acc

    def new_challenge(self, mid: str, username: str = "") -> Challenge:
        code = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        ch = Challenge(
            sc=random_alnum(24), code=code, mid=mid, created=self._clock.now(), username=username
        )
        self.challenges[ch.sc] = ch
        while len(self.challenges) > 500:
            self.challenges.popitem(last=False)
        return ch

    def latest_challenge(self, username: str | None = None) -> Challenge | None:
        for ch in reversed(self.challenges.values()):
            if username is None or not ch.username or ch.username == username:
                return ch
        return None

    def issue_tokens(self, acc: Account) -> Tokens:
        stamp = int(self._clock.now())
        q = (
            f"u=360H{acc.qid}&n={quote(acc.nickname)}&le=&m=&qid={acc.qid}"
            f"&im=1_t{secrets.token_hex(10)}&src=mpl_cloudsmartoem_and&t=1"
        )
        t = f"s={secrets.token_hex(16)}&t={stamp}&a=1&v=1.0&lm=&lf=1&sk={secrets.token_hex(8)}"
        tok = Tokens(qid=acc.qid, region=acc.region, q=q, t=t, issued=self._clock.now())
        self.tokens[q] = tok
        return tok

    def check_tokens(
        self, q: str, t: str, region: str, *, decoded_ok: bool = False, check_t: bool = True
    ) -> Tokens:
        """The tokens of a jws header. Q and T count in the form the login handed them out,
        URL-encoded (docs/protocol/cloud-api.md#account-login); the decoded form only with
        `decoded_ok` (a knob). With `check_t` false (a valid session id came along) only Q is
        compared."""
        tok = self.tokens.get(unquote(q))
        if tok is None or tok.region != region:
            raise WorldError(codes.QT_EXPIRED)
        wire_q, wire_t = quote(tok.q, safe=""), quote(tok.t, safe="")
        t_issued = not check_t or secrets.compare_digest(wire_t, t)
        t_decoded = not check_t or secrets.compare_digest(tok.t, t)
        as_issued = secrets.compare_digest(wire_q, q) and t_issued
        decoded = secrets.compare_digest(tok.q, q) and t_decoded
        if not (as_issued or (decoded_ok and decoded)):
            raise WorldError(codes.QT_EXPIRED)
        if tok.timed_out:
            raise WorldError(codes.SESSION_TIMEOUT)
        if tok.expired or tok.qid not in self._accounts:
            raise WorldError(codes.QT_EXPIRED)
        return tok

    def app_login(self, qid: str, region: str, *, phone_app: bool = False) -> Session:
        now = self._clock.now()
        old = self.active_sid.get(qid)
        if old and old in self.sessions:
            self.sessions[old].stolen_at = now
        sess = Session(sid=secrets.token_hex(16), qid=qid, region=region, created=now)
        sess.phone_app = phone_app
        self.sessions[sess.sid] = sess
        self.active_sid[qid] = sess.sid
        # keep the session table bounded
        if len(self.sessions) > 5000:
            for sid in list(self.sessions)[:1000]:
                if self.active_sid.get(self.sessions[sid].qid) != sid:
                    del self.sessions[sid]
        return sess

    def session_valid(self, sid: str) -> bool:
        """Whether a session id is known, not expired and not taken over."""
        sess = self.sessions.get(sid)
        return sess is not None and not sess.expired and sess.stolen_at is None

    def check_session(self, sid: str, qid: str) -> Session:
        sess = self.sessions.get(sid)
        if sess is None or sess.qid != qid or sess.expired:
            raise WorldError(codes.SID_EXPIRED)
        if sess.stolen_at is not None:
            raise WorldError(codes.SESSION_STOLEN)
        return sess
