import NIOCore
import NIOSSL

/// The connection closed before the awaited reply arrived.
struct SMTPConnectionClosed: Error, CustomStringConvertible {
    var description: String { "connection closed by the server" }
}

/// No reply within the command's time limit.
struct SMTPTimeout: Error, CustomStringConvertible {
    var description: String { "timed out waiting for the server" }
}

/// Hands each decoded reply to the one waiting command (or keeps it until one asks);
/// fails that wait on an error, the connection's end, or its time limit.
final class SMTPReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = SMTPReply

    private var context: ChannelHandlerContext?
    private var buffered = CircularBuffer<SMTPReply>()
    private var waiter: (promise: EventLoopPromise<SMTPReply>, timeout: Scheduled<Void>)?
    private var failure: (any Error)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(SMTPConnectionClosed())
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let waiter {
            self.waiter = nil
            waiter.timeout.cancel()
            waiter.promise.succeed(reply)
        } else {
            buffered.append(reply)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPConnectionClosed())
        context.fireChannelInactive()
    }

    /// Writes `bytes` (if any) and waits for the next reply, at most `timeout` from now.
    /// Called on the channel's event loop.
    func exchange(_ bytes: ByteBuffer?, timeout: TimeAmount, eventLoop: any EventLoop) -> EventLoopFuture<SMTPReply> {
        guard let context else { return eventLoop.makeFailedFuture(failure ?? SMTPConnectionClosed()) }
        let promise = context.eventLoop.makePromise(of: SMTPReply.self)
        if let bytes { context.writeAndFlush(wrapOutboundOut(bytes), promise: nil) }
        if let reply = buffered.popFirst() {
            promise.succeed(reply)
        } else if let failure {
            promise.fail(failure)
        } else {
            precondition(waiter == nil, "one SMTP command at a time")
            let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.fail(SMTPTimeout())
                self.context?.close(promise: nil)
            }
            waiter = (promise, timer)
        }
        return promise.futureResult
    }

    private func fail(_ error: any Error) {
        if failure == nil { failure = error }
        if let waiter {
            self.waiter = nil
            waiter.timeout.cancel()
            waiter.promise.fail(error)
        }
    }
}

extension SMTPReplyHandler {
    typealias OutboundOut = ByteBuffer
}
