// SPDX-License-Identifier: GPL-3.0-only
pragma solidity ^0.8.24;

import {IERC20Minimal} from "./IERC20Minimal.sol";

/// Deposits as Golem's deposits work (golem-architecture specs/deposits.md): a funder locks tokens for a
/// spender (a node that pays providers on the funder's behalf) with a flat fee and an expiry. The spender pays
/// out of the deposit and closes it (remainder back to the funder, fee to the spender); once expired, the funder
/// can take everything back. The id is `uint160(funder) << 96 ^ nonce`, so funder and nonce are recoverable.
contract LockPayment {
    struct Deposit {
        address spender;
        uint128 amount;
        uint128 feeAmount;
        uint64 validTo;
    }

    struct DepositView {
        uint256 id;
        uint64 nonce;
        address funder;
        address spender;
        uint128 amount;
        uint128 feeAmount;
        uint64 validTo;
    }

    /// A closed or terminated deposit keeps this spender, so its id can never be used again.
    address public constant CLOSED_SPENDER = address(0x0000000000000000000000000000000000000Bad);
    uint64 public constant CONTRACT_ID_AND_VERSION = 0x167583002;

    IERC20Minimal public immutable GLM;
    mapping(uint256 => Deposit) public deposits;

    event DepositCreated(uint256 indexed id, address indexed spender, uint128 amount, uint128 feeAmount, uint64 validTo);
    event DepositExtended(uint256 indexed id, uint128 amount, uint128 feeAmount, uint64 validTo);
    event DepositClosed(uint256 indexed id, uint128 returned);
    event DepositTerminated(uint256 indexed id, uint128 returned);
    event DepositFeeTransfer(uint256 indexed id, address indexed spender, uint128 amount);
    event DepositTransfer(uint256 indexed id, address indexed to, uint128 amount);

    error DepositExists(uint256 id);
    error NoDeposit(uint256 id);
    error NotSpender(uint256 id, address caller);
    error BadSpender(address spender);
    error ZeroAmount();
    error InsufficientDeposit(uint256 id, uint128 available, uint256 needed);
    error PayToSpender(uint256 id);
    error NotExpired(uint256 id, uint64 validTo);
    error ValidToInPast(uint64 validTo);
    error ValidToShrinks(uint64 current, uint64 requested);
    error TransferFailed();

    constructor(IERC20Minimal glm) {
        GLM = glm;
    }

    function idFrom(address funder, uint64 nonce) public pure returns (uint256) {
        return (uint256(uint160(funder)) << 96) ^ uint256(nonce);
    }

    function funderFromId(uint256 id) public pure returns (address) {
        return address(uint160(id >> 96));
    }

    function nonceFromId(uint256 id) public pure returns (uint64) {
        return uint64(id);
    }

    function createDeposit(uint64 nonce, address spender, uint128 amount, uint128 flatFeeAmount, uint64 validToTimestamp)
        external
        returns (uint256 id)
    {
        id = idFrom(msg.sender, nonce);
        if (deposits[id].spender != address(0)) revert DepositExists(id);
        if (spender == address(0) || spender == msg.sender || spender == CLOSED_SPENDER) revert BadSpender(spender);
        if (amount == 0) revert ZeroAmount();
        if (validToTimestamp <= block.timestamp) revert ValidToInPast(validToTimestamp);
        deposits[id] = Deposit(spender, amount, flatFeeAmount, validToTimestamp);
        _pull(msg.sender, uint256(amount) + flatFeeAmount);
        emit DepositCreated(id, spender, amount, flatFeeAmount, validToTimestamp);
    }

    function extendDeposit(uint64 nonce, uint128 additionalAmount, uint128 additionalFlatFee, uint64 validToTimestamp)
        external
    {
        uint256 id = idFrom(msg.sender, nonce);
        Deposit storage deposit = _live(id);
        if (validToTimestamp < deposit.validTo) revert ValidToShrinks(deposit.validTo, validToTimestamp);
        deposit.amount += additionalAmount;
        deposit.feeAmount += additionalFlatFee;
        deposit.validTo = validToTimestamp;
        _pull(msg.sender, uint256(additionalAmount) + additionalFlatFee);
        emit DepositExtended(id, deposit.amount, deposit.feeAmount, validToTimestamp);
    }

    function depositSingleTransfer(uint256 id, address to, uint128 amount) public {
        Deposit storage deposit = _spendable(id);
        _payOut(id, deposit, to, amount);
    }

    function depositTransfer(uint256 id, bytes32[] calldata payments) public {
        Deposit storage deposit = _spendable(id);
        for (uint256 i = 0; i < payments.length; ++i) {
            bytes32 packed = payments[i];
            _payOut(id, deposit, address(bytes20(packed)), uint128(uint256(packed) & ((1 << 96) - 1)));
        }
    }

    function depositSingleTransferAndClose(uint256 id, address to, uint128 amount) external {
        depositSingleTransfer(id, to, amount);
        closeDeposit(id);
    }

    function depositTransferAndClose(uint256 id, bytes32[] calldata payments) external {
        depositTransfer(id, payments);
        closeDeposit(id);
    }

    /// Spender: returns the remainder to the funder and takes the fee.
    function closeDeposit(uint256 id) public {
        Deposit storage deposit = _spendable(id);
        uint128 remainder = deposit.amount;
        uint128 fee = deposit.feeAmount;
        address spender = deposit.spender;
        deposit.spender = CLOSED_SPENDER;
        deposit.amount = 0;
        deposit.feeAmount = 0;
        if (remainder > 0) _send(funderFromId(id), remainder);
        if (fee > 0) {
            _send(spender, fee);
            emit DepositFeeTransfer(id, spender, fee);
        }
        emit DepositClosed(id, remainder);
    }

    /// Funder: after the deposit expired, takes back what is left, fee included.
    function terminateDeposit(uint64 nonce) external {
        uint256 id = idFrom(msg.sender, nonce);
        Deposit storage deposit = _live(id);
        if (deposit.validTo >= block.timestamp) revert NotExpired(id, deposit.validTo);
        uint128 returned = deposit.amount + deposit.feeAmount;
        deposit.spender = CLOSED_SPENDER;
        deposit.amount = 0;
        deposit.feeAmount = 0;
        if (returned > 0) _send(msg.sender, returned);
        emit DepositTerminated(id, returned);
    }

    function getDeposit(uint256 id) public view returns (DepositView memory) {
        Deposit memory deposit = deposits[id];
        if (deposit.spender == address(0)) revert NoDeposit(id);
        return DepositView(
            id, nonceFromId(id), funderFromId(id), deposit.spender, deposit.amount, deposit.feeAmount, deposit.validTo
        );
    }

    function getDepositByNonce(uint64 nonce, address funder) external view returns (DepositView memory) {
        return getDeposit(idFrom(funder, nonce));
    }

    function _live(uint256 id) private view returns (Deposit storage deposit) {
        deposit = deposits[id];
        if (deposit.spender == address(0) || deposit.spender == CLOSED_SPENDER) revert NoDeposit(id);
    }

    function _spendable(uint256 id) private view returns (Deposit storage deposit) {
        deposit = _live(id);
        if (deposit.spender != msg.sender) revert NotSpender(id, msg.sender);
    }

    function _payOut(uint256 id, Deposit storage deposit, address to, uint128 amount) private {
        if (to == deposit.spender) revert PayToSpender(id);
        if (amount > deposit.amount) revert InsufficientDeposit(id, deposit.amount, amount);
        deposit.amount -= amount;
        _send(to, amount);
        emit DepositTransfer(id, to, amount);
    }

    function _pull(address from, uint256 amount) private {
        if (amount > 0 && !GLM.transferFrom(from, address(this), amount)) revert TransferFailed();
    }

    function _send(address to, uint256 amount) private {
        if (!GLM.transfer(to, amount)) revert TransferFailed();
    }
}
