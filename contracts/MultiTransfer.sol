// SPDX-License-Identifier: GPL-3.0-only
pragma solidity ^0.8.24;

import {IERC20Minimal} from "./IERC20Minimal.sol";

/// Pays many payees in one transaction, each straight from the payer's balance (`transferFrom` after one
/// `approve` of this contract), so every payment shows on chain as the token's own `Transfer(payer, payee,
/// amount)` log, which is what a payee verifies. A payment is packed as Golem packs it: the payee's address
/// in the high 20 bytes of a bytes32 and the amount (below 2^96) in the low 12 bytes.
contract MultiTransfer {
    IERC20Minimal public immutable token;

    /// One per call, so a payer's batch is easy to find in logs.
    event BatchTransferred(address indexed payer, uint256 count, uint256 total);

    error LengthMismatch(uint256 payees, uint256 amounts);
    error TransferFailed(address payee, uint256 amount);
    error EmptyBatch();

    constructor(IERC20Minimal token_) {
        token = token_;
    }

    function golemTransferDirectPacked(bytes32[] calldata payments) external {
        uint256 count = payments.length;
        if (count == 0) revert EmptyBatch();
        uint256 total = 0;
        for (uint256 i = 0; i < count; ++i) {
            bytes32 packed = payments[i];
            address payee = address(bytes20(packed));
            uint256 amount = uint256(packed) & ((1 << 96) - 1);
            if (!token.transferFrom(msg.sender, payee, amount)) revert TransferFailed(payee, amount);
            total += amount;
        }
        emit BatchTransferred(msg.sender, count, total);
    }

    function golemTransferDirect(address[] calldata payees, uint256[] calldata amounts) external {
        uint256 count = payees.length;
        if (count != amounts.length) revert LengthMismatch(count, amounts.length);
        if (count == 0) revert EmptyBatch();
        uint256 total = 0;
        for (uint256 i = 0; i < count; ++i) {
            if (!token.transferFrom(msg.sender, payees[i], amounts[i])) revert TransferFailed(payees[i], amounts[i]);
            total += amounts[i];
        }
        emit BatchTransferred(msg.sender, count, total);
    }
}
