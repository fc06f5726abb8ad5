"""The one settings object of every socpipe process.

Read from environment variables (prefix SOCPIPE_, plus the conventional KAFKA_BOOTSTRAP_SERVERS and
ELASTICSEARCH_URL) and one optional YAML file named by SOCPIPE_CONFIG. A bad value stops the program
at start with a message that names the setting, instead of failing later inside a worker.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from schemas.topics import Topics
from socpipe.errors import ConfigurationError, Problem


class SettingsError(ConfigurationError):
    """A setting is missing or wrong; each problem names it (its key) and says where it came from."""

    def __init__(self, problems: list[Problem] | str, *, title: str = "invalid socpipe settings") -> None:
        super().__init__(problems, title=title)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCPIPE_", extra="forbid", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SOCPIPE_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    # TLS to the brokers (SSL, SASL_SSL): the CA that signed their certificates (default: the system's),
    # and for brokers that want client certificates, ours (a PEM chain) and its key (and its password).
    # check_hostname off only for brokers whose certificates do not name the address they are reached at.
    kafka_ssl_cafile: FilePath | None = None
    kafka_ssl_certfile: FilePath | None = None
    kafka_ssl_keyfile: FilePath | None = None
    kafka_ssl_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Consumer group timing. A worker that dies without leaving its group (SIGKILL, OOM, a lost host)
    # holds its partitions until the broker misses its heartbeats for session_timeout_ms: for a SOC that
    # is detection latency, so the default is the broker's smallest allowed session (6 s), not
    # kafka-python's 45 s. Heartbeats run on their own thread, so a slow batch does not end a session;
    # max_poll_interval_ms bounds one batch (an outage waited out inside a batch longer than that
    # rejoins the group and redoes the batch). Static membership: a worker restarted with the same
    # group instance id (a StatefulSet pod name, a compose replica number) takes its partitions back at
    # once, without a rebalance; leave it unset where workers are not restarted under a stable name.
    kafka_session_timeout_ms: int = Field(default=6_000, ge=1_000, le=1_800_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_500, ge=100, le=600_000)
    kafka_max_poll_interval_ms: int = Field(default=300_000, ge=1_000, le=3_600_000)
    kafka_reconnect_backoff_max_ms: int = Field(
        default=2_000,
        ge=50,
        le=60_000,
        description="Longest wait between a client's reconnects to a broker (kafka-python's 30 s default "
        "kept every stage away for up to half a minute after Kafka came back).",
    )
    kafka_transaction_timeout_ms: int = Field(
        default=30_000,
        ge=1_000,
        le=900_000,
        description="A file tail's transaction left open by a shipper that died or lost Kafka is aborted "
        "by the broker after this long (kafka-python's default: 60 s); until then read_committed readers "
        "(normalise) wait at its first record. The tail commits every second, but a flush on a slow "
        "broker can take many seconds, and a transaction aborted mid-flush makes the tail start over.",
    )
    kafka_group_instance_id: str | None = Field(
        default=None, min_length=1, max_length=249, description="Static group membership (KIP-345)."
    )
    topic_prefix: str = ""
    topic_partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the topics socpipe creates: the most workers a stage can use.",
    )
    topic_replication_factor: int = Field(default=1, ge=1)

    elasticsearch_url: str = Field(
        default="http://127.0.0.1:9200",
        validation_alias=AliasChoices("ELASTICSEARCH_URL", "SOCPIPE_ELASTICSEARCH_URL"),
    )
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    index_prefix: str = "socpipe"

    rules_dirs: list[Path] = Field(
        default_factory=list, description="Extra rule folders, after the shipped ones."
    )
    strict_rules: bool = False
    rules_reload_poll_s: float | None = Field(
        default=None,
        gt=0,
        description="Reload the detector's rules when a rule file changed, checked this often.",
    )
    intel_file: Path | None = Field(
        default=None,
        description="Threat-intelligence feeds YAML (detectors/intel/config.py); default rules/intel.yaml "
        "when present, else no indicators.",
    )
    intel_copies_dir: Path | None = Field(
        default=None,
        description="Where the last good body of each URL feed is kept, so a detector started while a "
        "feed server is away reads it; default $XDG_CACHE_HOME/socpipe/intel (~/.cache/socpipe/intel).",
    )
    normalise_group: str = "socpipe-normalise"
    detector_group: str = "socpipe-detectors"
    correlate_group: str = "socpipe-correlators"
    responder_group: str = "socpipe-responders"
    events_index_group: str = "socpipe-events-index"
    batch_size: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_ms: int = Field(default=1000, ge=10, le=60_000)
    log_level: str = "INFO"
    kafka_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="CRITICAL",
        description="kafka-python's own log lines. It warns of every transient metadata gap and logs each "
        "failed connection of an outage, which socpipe reports once itself; WARNING shows them when "
        "finding out why a worker stopped making progress.",
    )
    # The operator's metrics: a Prometheus endpoint only when a port is set (`<stage> run --metrics-port`).
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="0 takes a free port.")
    metrics_host: str = Field(default="127.0.0.1", description="0.0.0.0 to let a scraper on another host in.")
    metrics_lag_interval_s: float = Field(
        default=5.0, ge=0, le=3600, description="Consumer lag is measured at most this often (a broker call)."
    )

    # Responders: tenants (routes, thresholds, sensitive fields) and notice delivery.
    tenants_file: Path | None = Field(default=None, description="Tenants YAML; default rules/tenants.yaml.")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "soc@socpipe.invalid"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    notice_attempts: int = Field(default=4, ge=1, le=20, description="Delivery attempts per notice.")
    notice_backoff_s: float = Field(
        default=1.0, ge=0, le=600, description="First retry delay; doubles, jittered."
    )
    notice_timeout_s: float = Field(default=10.0, gt=0, le=300)
    claim_timeout_s: float = Field(default=60.0, ge=0, description="After this, another worker takes over.")
    notice_sweep_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="The responder delivers notices left pending by a crash this often; 0: never.",
    )
    sla_check_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="The responder looks for breached service-level clocks this often; 0: never.",
    )
    notice_retry_max_s: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="Longest wait between the sweep's rounds for a notice failing transiently (the wait "
        "starts at the claim timeout and doubles, jittered, up to this).",
    )
    notice_give_up_after_s: float = Field(
        default=86400.0,
        gt=0,
        le=30 * 86400,
        description="A notice still failing transiently this long after its first try is marked failed "
        "for good (error 'expired: ...', counted as notices{result=expired}); `notice retry "
        "--include-failed` sends it once the cause is fixed.",
    )
    kibana_url: str = "http://127.0.0.1:5601"
    triage_url: str = Field(
        default="http://127.0.0.1:8470",
        description="Where analysts' browsers reach `socpipe triage serve`: Kibana's incident ids link "
        "there, and login links are made on it.",
    )
    triage_secret: SecretStr | None = Field(
        default=None,
        description="Signs the triage page's login links and session cookies: a long random string, the "
        "same for `triage login-link` and `triage serve`.",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value

    @field_validator("elasticsearch_url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Settings:
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError(
                f"SOCPIPE_KAFKA_HEARTBEAT_INTERVAL_MS ({self.kafka_heartbeat_interval_ms}) must be at most a "
                f"third of SOCPIPE_KAFKA_SESSION_TIMEOUT_MS ({self.kafka_session_timeout_ms}), so a member "
                "is not dropped for one late heartbeat"
            )
        return self

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SOCPIPE_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def _describe(error: dict[str, Any]) -> Problem:
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in Settings.model_fields and loc[0].islower():
        loc[0] = f"SOCPIPE_{loc[0].upper()}"
    where = ".".join(loc) or "(settings)"
    return Problem(f"{error['msg']} (got {error.get('input')!r})", key=f"setting {where}")


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings; raise SettingsError naming every bad one."""
    config_file = os.environ.get("SOCPIPE_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise SettingsError(
            [Problem(f"names {config_file!r}, which is not a file", key="SOCPIPE_CONFIG", fix="fix the path")]
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        origin = f" (environment and {config_file})" if config_file else " (environment)"
        problems = [_describe(dict(e)) for e in exc.errors()]
        raise SettingsError(problems, title=f"invalid socpipe settings{origin}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
