package mail_test

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// traced turns tracing on into an in-memory exporter for one test, and
// returns a flush that exports what has ended and returns the spans.
func traced(t *testing.T) (tracer trace.Tracer, spans func() tracetest.SpanStubs) {
	t.Helper()
	tel, exp := testenv.Tracing(t)
	return tel.TracerProvider().Tracer("test"), func() tracetest.SpanStubs { return testenv.Flush(t, tel, exp) }
}

// rejectingSMTPServer refuses every recipient, naming it, as real
// servers do ("550 5.1.1 <ada@…>: Recipient address rejected").
func rejectingSMTPServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		say("220 test ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case strings.HasPrefix(cmd, "EHLO"):
				say("250-test\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME")
			case strings.HasPrefix(cmd, "RCPT TO:"):
				say("550 5.1.1 " + strings.TrimSpace(line[len("RCPT TO:"):]) + ": Recipient address rejected")
			case strings.HasPrefix(cmd, "QUIT"):
				say("221 bye")
				return
			default:
				say("250 ok")
			}
		}
	}()
	tcp := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(ln.Addr().String()))
	return tcp.IP.String(), tcp.Port
}

// TestSMTPSendingIsASpanWithoutTheRecipients: a message sent is a client
// span of the task that sent it, naming the server; when the server
// refuses the recipient, the span says so with the status codes, not the
// address that go-mail's error lists.
func TestSMTPSendingIsASpanWithoutTheRecipients(t *testing.T) {
	tracer, spans := traced(t)
	host, port := rejectingSMTPServer(t)
	s := &mail.SMTP{Host: host, Port: port, Sender: "noreply@example.com"}
	to := "ada.private@example.com"
	ctx, task := tracer.Start(t.Context(), "task mail:send", trace.WithSpanKind(trace.SpanKindConsumer))
	err := s.Send(ctx, mail.Message{To: []string{to}, Subject: "Welcome", Text: "Hello"})
	task.End()
	if err == nil || !strings.Contains(err.Error(), to) {
		t.Fatalf("Send = %v, want go-mail's refusal naming the recipient (for the log)", err)
	}
	var send *tracetest.SpanStub
	for _, st := range spans() {
		if st.Name == "mail send" {
			send = &st
		}
	}
	if send == nil || send.Parent.SpanID() != task.SpanContext().SpanID() || send.SpanKind != trace.SpanKindClient {
		t.Fatalf("no client span \"mail send\" under the task: %+v", send)
	}
	attrs := map[string]string{}
	for _, kv := range send.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["server.address"] != host || attrs["mail.transport"] != "smtp" {
		t.Errorf("attributes %v", attrs)
	}
	if !strings.Contains(send.Status.Description, "550 5.1.1") {
		t.Errorf("status %q, want the server's codes", send.Status.Description)
	}
	texts := []string{send.Status.Description}
	for _, e := range send.Events {
		for _, kv := range e.Attributes {
			texts = append(texts, kv.Value.String())
		}
	}
	for k, v := range attrs {
		texts = append(texts, k+"="+v)
	}
	for _, text := range texts {
		if strings.Contains(text, to) {
			t.Errorf("the span holds the recipient: %s", text)
		}
	}
}
