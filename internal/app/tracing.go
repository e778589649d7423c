package app

import (
	"fmt"
	"net/http"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"gorm.io/plugin/opentelemetry/tracing"

	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/storage"
)

// The instrumentation of the app's clients (SQL, Redis, S3, the OpenID
// Connect providers) is installed here, and only when tracing is on:
// off, the clients are exactly those of an app without tracing. Each
// takes the app's provider explicitly, never otel's global one, so
// nothing else a process installs makes them record. Launchkit's own
// spans (directory, mail) need no installing: telemetry.Start records
// nothing while tracing is off.

// traceDB puts each SQL statement through Gorm in a client span, child of
// the context the query was made with (db.WithContext). The statement
// goes in with its placeholders only: the values are often personal data,
// password hashes or tokens. The read pool (dbresolver's replica on
// SQLite) runs the same callbacks, so its queries are traced too.
func (a *App) traceDB() error {
	if !a.Telemetry.Enabled() {
		return nil
	}
	plugin := tracing.NewPlugin(
		tracing.WithTracerProvider(a.Telemetry.TracerProvider()),
		tracing.WithoutMetrics(), // the pool's metrics are Prometheus's
		tracing.WithoutQueryVariables(),
	)
	if err := a.DB.Gorm.Use(plugin); err != nil {
		return fmt.Errorf("tracing: SQL: %w", err)
	}
	return nil
}

// traceRedis puts each command of rdb in a client span named by the
// command ("get", "evalsha"). Commands are not recorded with their
// arguments: keys and values are session data, tokens and rate-limit
// identities. The caller's file and line are not looked up either (a
// stack walk per command); the parent span says who asked.
func (a *App) traceRedis(rdb *redis.Client) error {
	if !a.Telemetry.Enabled() || rdb == nil {
		return nil
	}
	err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(a.Telemetry.TracerProvider()),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	)
	if err != nil {
		return fmt.Errorf("tracing: redis: %w", err)
	}
	return nil
}

// storageOptions trace each S3 request when tracing is on.
func (a *App) storageOptions() []storage.Option {
	if !a.Telemetry.Enabled() {
		return nil
	}
	return []storage.Option{storage.WithTracerProvider(a.Telemetry.TracerProvider())}
}

// ssoClient is the HTTP client of the OpenID Connect providers: with
// tracing on, sso's default client with each call (discovery, token,
// userinfo, keys) in a client span; nil (sso's default) when off. The
// trace is not sent to the provider: it is not part of this site's
// traces, and its IDs are none of its business.
func (a *App) ssoClient() *http.Client {
	if !a.Telemetry.Enabled() {
		return nil
	}
	client := sso.NewHTTPClient(sso.DefaultTimeout)
	client.Transport = otelhttp.NewTransport(client.Transport,
		otelhttp.WithTracerProvider(a.Telemetry.TracerProvider()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
	)
	return client
}
